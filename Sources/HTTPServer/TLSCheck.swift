import CGnuTLS

extension TLSMaterial {
    /// Loads the PEM material into GnuTLS (libmicrohttpd's TLS library) the way libmicrohttpd will, so that a
    /// bad file is reported by name; libmicrohttpd itself only fails to start.
    public func validate() throws(ServerError) {
        let problem = Self.problem(
            key: Array(keyPEM.utf8),
            certificate: Array(certificatePEM.utf8),
            clientCA: clientCAPEM.map { Array($0.utf8) },
            priorities: priorities
        )
        switch problem {
        case nil: return
        case .certificate(let reason):
            throw ServerError("TLS: \(certificateOrigin) is not a usable PEM certificate (\(reason))")
        case .key(let reason):
            throw ServerError("TLS: \(keyOrigin) is not a usable unencrypted PEM private key (\(reason))")
        case .pair(let reason):
            throw ServerError("TLS: \(certificateOrigin) and \(keyOrigin) do not go together (\(reason))")
        case .clientCA(let reason):
            throw ServerError("TLS: \(clientCAOrigin) holds no usable PEM certificate (\(reason))")
        case .priorities(let reason):
            throw ServerError("TLS: the protocol and cipher settings are not accepted by GnuTLS (\(reason))")
        case .other(let reason):
            throw ServerError("TLS: \(reason)")
        }
    }

    private enum Problem {
        case certificate(String)
        case key(String)
        case pair(String)
        case clientCA(String)
        case priorities(String)
        case other(String)
    }

    private static func problem(
        key: [UInt8],
        certificate: [UInt8],
        clientCA: [UInt8]?,
        priorities: String?
    )
        -> Problem?
    {
        var credentials: gnutls_certificate_credentials_t?
        guard gnutls_certificate_allocate_credentials(&credentials) == GNUTLS_E_SUCCESS, let credentials else {
            return .other("GnuTLS cannot allocate credentials")
        }
        defer { gnutls_certificate_free_credentials(credentials) }
        // The certificate alone first, to name the file at fault.
        var alone: gnutls_certificate_credentials_t?
        guard gnutls_certificate_allocate_credentials(&alone) == GNUTLS_E_SUCCESS, let alone else {
            return .other("GnuTLS cannot allocate credentials")
        }
        defer { gnutls_certificate_free_credentials(alone) }
        let certificates = withDatum(certificate) { datum in
            gnutls_certificate_set_x509_trust_mem(alone, &datum, GNUTLS_X509_FMT_PEM)
        }
        if let code = certificates.failure { return .certificate(message(code)) }
        if certificates.code == 0 { return .certificate("no certificate found") }
        let paired = withDatum(certificate) { certificateDatum in
            withDatum(key) { keyDatum in
                gnutls_certificate_set_x509_key_mem2(
                    credentials,
                    &certificateDatum,
                    &keyDatum,
                    GNUTLS_X509_FMT_PEM,
                    nil,
                    0
                )
            }.code
        }
        if let code = paired.failure {
            // The certificate is readable, so any other failure is the key's.
            return code == GNUTLS_E_CERTIFICATE_KEY_MISMATCH ? .pair(message(code)) : .key(message(code))
        }
        if let clientCA {
            let trusted = withDatum(clientCA) { datum in
                gnutls_certificate_set_x509_trust_mem(credentials, &datum, GNUTLS_X509_FMT_PEM)
            }
            if trusted.code < 0 { return .clientCA(message(trusted.code)) }
            if trusted.code == 0 { return .clientCA("no certificate found") }
        }
        if let priorities {
            var cache: gnutls_priority_t?
            let code = gnutls_priority_init(&cache, priorities, nil)
            if code != GNUTLS_E_SUCCESS { return .priorities(message(code)) }
            gnutls_priority_deinit(cache)
        }
        return nil
    }

    private static func message(_ code: Int32) -> String {
        guard let text = gnutls_strerror(code) else { return "GnuTLS error \(code)" }
        return String(cString: text)
    }
}

/// What a GnuTLS call on a datum returned; `failure` is the code when it is an error.
private struct Outcome {
    let code: Int32
    var failure: Int32? { code < 0 ? code : nil }
}

/// Runs `body` with a GnuTLS datum over `bytes` (GnuTLS takes a mutable pointer but does not write).
private func withDatum(_ bytes: [UInt8], _ body: (inout gnutls_datum_t) -> Int32) -> Outcome {
    guard bytes.count < Int(UInt32.max) else { return Outcome(code: GNUTLS_E_MEMORY_ERROR) }
    var copy = bytes
    return copy.withUnsafeMutableBufferPointer { buffer in
        var datum = gnutls_datum_t(data: buffer.baseAddress, size: UInt32(buffer.count))
        return Outcome(code: body(&datum))
    }
}
