fax_SRCS := channels/common/letter.c
fax_PKGS := pangocairo cairo-pdf libcurl jansson
