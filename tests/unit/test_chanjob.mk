test_chanjob_SRCS := channels/common/chanq.c channels/common/chanjob.c
