test_sms_req_SRCS := channels/sms/smsreq.c channels/sms/gsm.c
test_sms_req_PKGS := jansson
