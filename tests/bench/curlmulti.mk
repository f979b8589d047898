curlmulti_PKGS := libcurl
