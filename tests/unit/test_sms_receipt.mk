test_sms_receipt_SRCS := channels/sms/receipt.c channels/sms/smsreq.c channels/sms/twsig.c
test_sms_receipt_PKGS := jansson libcrypto
