test_sms_inbound_SRCS := channels/sms/inbound.c channels/sms/receipt.c channels/sms/smsreq.c \
	channels/sms/twsig.c
test_sms_inbound_PKGS := jansson libcrypto
