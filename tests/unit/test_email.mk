# Unit tests of the email channel's pure functions (no libesmtp, no network).
test_email_SRCS := channels/email/mime.c
test_email_PKGS := libcrypto
