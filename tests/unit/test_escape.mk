test_escape_PKGS := jansson
