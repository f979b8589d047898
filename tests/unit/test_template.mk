test_template_SRCS := router/template.c
test_template_PKGS := jansson
