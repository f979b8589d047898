# esmtploop: a bare libesmtp client (the email bench's third figure).
esmtploop_PKGS := libesmtp-1.0
