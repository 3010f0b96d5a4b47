#include "CShims.h"
#include <string.h>
#include <gnutls/gnutls.h>

CURLcode zme_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
CURLcode zme_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}
CURLcode zme_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}
CURLcode zme_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}
CURLcode zme_curl_setopt_data_callback(CURL *handle, CURLoption option, zme_curl_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}
CURLcode zme_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}
CURLcode zme_curl_getinfo_double(CURL *handle, CURLINFO info, double *value) {
    return curl_easy_getinfo(handle, info, value);
}
CURLcode zme_curl_setopt_xferinfo_callback(CURL *handle, zme_curl_xferinfo_callback value) {
    return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, value);
}

/* Leaves request paths percent-encoded, so that an encoded '/' inside a path segment stays inside it. */
static size_t zme_keep_escaped(void *cls, struct MHD_Connection *connection, char *text) {
    (void)cls;
    (void)connection;
    return strlen(text);
}

struct MHD_Daemon *zme_mhd_start(
    const zme_mhd_options *o,
    MHD_AccessHandlerCallback handler, void *handler_context,
    MHD_RequestCompletedCallback completed, void *completed_context) {
    struct MHD_OptionItem items[20];
    int n = 0;
    items[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, completed_context};
    items[n++] = (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)zme_keep_escaped, NULL};
    /* A deep accept queue: during a burst of new connections a dropped SYN costs the client a second. */
    items[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096, NULL};
    if (o->bind_address) items[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, (void *)o->bind_address};
    if (o->connection_limit) items[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, o->connection_limit, NULL};
    if (o->connection_timeout_seconds)
        items[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, o->connection_timeout_seconds, NULL};
    if (o->thread_pool_size) items[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, o->thread_pool_size, NULL};
    if (o->connection_memory_limit)
        items[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)o->connection_memory_limit, NULL};
    if (o->https_key_pem) items[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)o->https_key_pem};
    if (o->https_cert_pem) items[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)o->https_cert_pem};
    if (o->https_trust_pem) items[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, (void *)o->https_trust_pem};
    if (o->https_priorities) items[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)o->https_priorities};
    if (o->per_ip_connection_limit)
        items[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->per_ip_connection_limit, NULL};
    if (o->on_connection_event)
        items[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)o->on_connection_event,
                                             o->on_connection_event_context};
    if (o->on_request_line)
        items[n++] = (struct MHD_OptionItem){MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)o->on_request_line,
                                             o->on_request_line_context};
    items[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    return MHD_start_daemon(o->flags, o->port, NULL, NULL, handler, handler_context,
                            MHD_OPTION_ARRAY, items, MHD_OPTION_END);
}

/* libmicrohttpd asks TLS clients for a certificate when it has a trust list, but leaves checking it to
   the application (MHD_get_connection_info is variadic, hence this wrapper). */
zme_client_certificate zme_mhd_client_certificate(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!info || !info->tls_session) return ZME_CLIENT_CERTIFICATE_NONE;
    gnutls_session_t session = (gnutls_session_t)info->tls_session;
    unsigned int count = 0;
    if (!gnutls_certificate_get_peers(session, &count) || count == 0) return ZME_CLIENT_CERTIFICATE_NONE;
    unsigned int status = 0;
    if (gnutls_certificate_verify_peers2(session, &status) < 0 || status != 0)
        return ZME_CLIENT_CERTIFICATE_UNVERIFIED;
    return ZME_CLIENT_CERTIFICATE_VERIFIED;
}

int zme_mhd_connection_fd(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info ? info->connect_fd : -1;
}
