test_sms_req_SRCS := channels/sms/smsreq.c
test_sms_req_PKGS := jansson
