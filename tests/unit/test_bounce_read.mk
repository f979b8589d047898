test_bounce_read_SRCS := tools/bounce_read.c
test_bounce_read_PKGS := gmime-3.0
