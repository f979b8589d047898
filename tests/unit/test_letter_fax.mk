test_letter_fax_SRCS := channels/fax/faxrcpt.c
test_letter_fax_PKGS := jansson
