test_curlmulti_PKGS := libcurl
