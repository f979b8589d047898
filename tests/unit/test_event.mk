test_event_SRCS := router/event.c router/jsonfast.c
test_event_PKGS := jansson
