test_transition_PKGS := jansson libzmq
