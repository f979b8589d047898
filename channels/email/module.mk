# The email channel links libesmtp (Debian libesmtp-dev, pkg-config libesmtp-1.0).
email_PKGS := libesmtp-1.0 libcrypto
