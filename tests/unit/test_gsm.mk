test_gsm_SRCS :=
