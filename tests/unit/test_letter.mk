test_letter_SRCS := channels/common/letter.c
test_letter_PKGS := pangocairo cairo-pdf
