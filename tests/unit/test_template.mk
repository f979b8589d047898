test_template_SRCS :=
test_template_PKGS := jansson
