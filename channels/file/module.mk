file_PKGS := jansson
