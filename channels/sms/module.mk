# sms channel: libcurl multi to an HTTP SMS gateway, jansson for JSON.
sms_PKGS := libcurl jansson
