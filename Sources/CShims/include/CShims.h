// Typed wrappers for the variadic C functions of libcurl and libmicrohttpd, which Swift cannot call.
#ifndef ZME_CSHIMS_H
#define ZME_CSHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <curl/curl.h>
#include <microhttpd.h>

typedef size_t (*zme_curl_data_callback)(char *data, size_t size, size_t count, void *userdata);

CURLcode zme_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode zme_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode zme_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode zme_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode zme_curl_setopt_data_callback(CURL *handle, CURLoption option, zme_curl_data_callback value);
CURLcode zme_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode zme_curl_getinfo_double(CURL *handle, CURLINFO info, double *value);

/// CURLOPT_XFERINFOFUNCTION's callback: a non-zero return aborts the transfer (CURLE_ABORTED_BY_CALLBACK).
typedef int (*zme_curl_xferinfo_callback)(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                                          curl_off_t ultotal, curl_off_t ulnow);
CURLcode zme_curl_setopt_xferinfo_callback(CURL *handle, zme_curl_xferinfo_callback value);

typedef void (*zme_connection_opened)(void *context);

/// Told when a request line has arrived (MHD_OPTION_URI_LOG_CALLBACK); the result becomes the request context.
typedef void *(*zme_request_line_arrived)(void *context, const char *uri, struct MHD_Connection *connection);

/// What the HTTP server adapter needs from MHD_start_daemon; zero means "library default".
typedef struct {
    unsigned int flags;
    uint16_t port;
    const struct sockaddr *bind_address;  // NULL: every address
    unsigned int connection_limit;
    unsigned int connection_timeout_seconds;
    unsigned int thread_pool_size;
    size_t connection_memory_limit;
    const char *https_key_pem;   // NULL: plain HTTP
    const char *https_cert_pem;
    const char *https_trust_pem; // client CA for mutual TLS, or NULL
    const char *https_priorities;
    unsigned int per_ip_connection_limit;
    MHD_NotifyConnectionCallback on_connection_event;  // NULL: not told of connections opened and closed
    void *on_connection_event_context;
    zme_request_line_arrived on_request_line;  // NULL: not told
    void *on_request_line_context;
} zme_mhd_options;

/// What a TLS client showed of itself (mutual TLS).
typedef enum {
    ZME_CLIENT_CERTIFICATE_NONE = 0,        // no TLS, or no certificate sent
    ZME_CLIENT_CERTIFICATE_VERIFIED = 1,    // signed by the trusted client CA, in its validity period
    ZME_CLIENT_CERTIFICATE_UNVERIFIED = 2,  // sent, but not verifiable against the client CA
} zme_client_certificate;

/// The client certificate of a connection, verified against the daemon's MHD_OPTION_HTTPS_MEM_TRUST.
zme_client_certificate zme_mhd_client_certificate(struct MHD_Connection *connection);

struct MHD_Daemon *zme_mhd_start(
    const zme_mhd_options *options,
    MHD_AccessHandlerCallback handler, void *handler_context,
    MHD_RequestCompletedCallback completed, void *completed_context);

/// The socket of a connection (MHD_get_connection_info is variadic), or -1.
int zme_mhd_connection_fd(struct MHD_Connection *connection);

#endif
