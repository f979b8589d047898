letterdump_SRCS := channels/common/letter.c
letterdump_PKGS := pangocairo cairo-pdf
