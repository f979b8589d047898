test_chanjob_SRCS := channels/common/chanjob.c
