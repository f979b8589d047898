test_sms_receipt_SRCS := channels/sms/receipt.c channels/sms/smsreq.c
test_sms_receipt_PKGS := jansson
