"""SIP transactions (RFC 3261 §17, RFC 6026 Accepted state), every timer on an injectable Clock.

``layer.TransactionLayer`` sits between the transports and one transaction user (the proxy
core's driver): it matches responses to ``client`` transactions (§17.1.3), retransmitted
requests and ACKs to ``server`` transactions (§17.2.3); ``timers`` holds the T1/T2/T4 values and
the states both kinds share.
"""
