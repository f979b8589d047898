test_service_SRCS := lib/service.c lib/service_skel.c
test_service_PKGS := libzmq
