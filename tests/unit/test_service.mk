test_service_SRCS := lib/service.c
test_service_PKGS := libzmq
