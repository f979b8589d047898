test_gsm_SRCS := channels/sms/gsm.c
