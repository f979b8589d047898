test_util_PKGS := inih
