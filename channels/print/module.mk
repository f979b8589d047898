print_SRCS := channels/common/letter.c
print_PKGS := pangocairo cairo-pdf jansson libcrypto
# libcups2-dev ships no pkg-config file (cups-config --libs says -lcups).
# -z nodelete: pango registers GObject types and fontconfig keeps caches that
# cannot be unloaded; dlclose must leave the plugin (and them) in place.
print_LIBS := -lcups -Wl,-z,nodelete
