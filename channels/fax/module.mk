fax_SRCS := channels/common/letter.c
fax_PKGS := pangocairo cairo-pdf libcurl jansson
# -z nodelete: pango registers GObject types and fontconfig keeps caches that
# cannot be unloaded; dlclose must leave the plugin (and them) in place.
fax_LIBS := -Wl,-z,nodelete
