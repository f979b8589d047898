test_event_SRCS := router/event.c
test_event_PKGS := jansson
