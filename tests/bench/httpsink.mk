httpsink_PKGS := libmicrohttpd
