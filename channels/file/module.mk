file_PKGS :=
