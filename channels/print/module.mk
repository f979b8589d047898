print_SRCS := channels/common/letter.c
print_PKGS := pangocairo cairo-pdf jansson libcrypto
# libcups2-dev ships no pkg-config file (cups-config --libs says -lcups)
print_LIBS := -lcups
