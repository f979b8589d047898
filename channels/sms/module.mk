# sms channel: libcurl multi to an HTTP SMS gateway, jansson for JSON,
# libcrypto for Twilio's receipt signatures.
sms_PKGS := libcurl jansson libcrypto
