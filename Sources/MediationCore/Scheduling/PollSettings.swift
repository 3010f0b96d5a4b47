import Synchronization

/// How the poller paces itself; replaced as a whole on reload.
public struct PollSettings: Sendable, Equatable {
    public var plan: PollPlan
    public var maxConcurrency: Int
    /// Rest interval while callouts arrive (the push path covers changes); nil without a receiver.
    public var webhookRestInterval: Double?
    /// Longest wait between polls of a failing meter-version.
    public var backoffCap: Double = 600
    /// Seconds without a callout after which a meter known only from callouts is forgotten; nil without
    /// a callout receiver.
    public var dynamicMeterTTL: Double?

    public init(plan: PollPlan, maxConcurrency: Int, webhookRestInterval: Double? = nil) {
        self.plan = plan
        self.maxConcurrency = maxConcurrency
        self.webhookRestInterval = webhookRestInterval
    }

    /// Fixed intervals with no budget: what tests and simple set-ups use.
    public init(interval: Double, maxConcurrency: Int) {
        self.init(
            plan: PollPlan(activeInterval: interval, restInterval: interval, budget: BudgetLimits()),
            maxConcurrency: maxConcurrency
        )
    }
}
