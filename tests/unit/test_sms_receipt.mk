test_sms_receipt_SRCS := channels/sms/receipt.c channels/sms/smsreq.c channels/sms/gsm.c
test_sms_receipt_PKGS := jansson
