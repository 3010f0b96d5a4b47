import Foundation
import MediationCore
import ServiceLifecycle
import SimulatorCore
import ZuoraClient

/// Takes the simulator's events ten times a second and delivers their callouts on tasks of their own, so
/// that a slow or absent receiver never holds up the simulator's API answers (libcurl runs on its own
/// threads). One sender per kind of event: first attempts go out in trigger order, as Zuora sends them
/// (retries may reorder), and 10,000 operators' snapshots do not delay a status change.
struct CalloutService: Service {
    let simulator: ZuoraSimulator
    let settings: CalloutSettings
    let status: CalloutDelivery?
    let periodic: CalloutDelivery?

    init(simulator: ZuoraSimulator, settings: CalloutSettings, counters: CalloutCounters) {
        self.simulator = simulator
        self.settings = settings
        let transport = CurlTransport(
            userAgent: "zuora-mediation-simulator",
            capturedHeaders: ["www-authenticate"],
            slots: 2
        )
        func delivery(_ url: String?) -> CalloutDelivery? {
            url.map { _ in
                CalloutDelivery(
                    settings: settings,
                    sender: CurlCalloutSender(transport: transport),
                    clock: SystemMonotonicClock(),
                    counters: counters
                )
            }
        }
        status = delivery(settings.statusURL)
        periodic = delivery(settings.periodicURL)
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                for delivery in [status, periodic].compactMap({ $0 }) {
                    group.addTask { await delivery.run(workers: 1) }
                }
                group.addTask {
                    let clock = SystemMonotonicClock()
                    while !Task.isCancelled {
                        let events = simulator.events(now: SystemWallClock().now())
                        CalloutBodies.enqueue(events, settings: settings, status: status, periodic: periodic)
                        do { try await clock.sleep(for: 0.1) } catch { return }
                    }
                }
            }
        }
    }
}

/// Sends callouts with the project's libcurl transport, which follows no redirect.
struct CurlCalloutSender: CalloutSender {
    let transport: CurlTransport

    func send(_ request: CalloutRequest) async -> CalloutResult {
        var curl = CurlRequest(
            method: "POST",
            url: request.url,
            headers: request.headers.map { "\($0.name): \($0.value)" },
            body: request.body,
            timeout: request.timeout
        )
        // The answer's body is not read; a receiver's runaway answer must not grow memory.
        curl.maxBodyBytes = 64 << 10
        switch await transport.perform(curl) {
        case .success(let response):
            return .answered(status: response.status, wwwAuthenticate: response.headers["www-authenticate"])
        case .failure(let failure) where failure.kind == .timeout: return .timedOut
        case .failure(let failure): return .failed(failure.detail)
        }
    }
}
