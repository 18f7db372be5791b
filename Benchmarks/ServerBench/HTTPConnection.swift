import NIOCore
import NIOHTTP1
import NIOPosix

/// A lean HTTP/1.1 keep-alive connection: one request at a time, no pool.
///
/// Why not AsyncHTTPClient (which the real agent uses): 10,000 simulated agents each hold a
/// long-poll open, so the bench needs 10,000+ concurrent connections in one process on two
/// shared cores. AHC's HTTP/1 pool scans its connection list on every request and adds a
/// request state machine, a delegate and an executor per call; that overhead is paid by
/// the load generator, which shares the CPU with the server being measured. Here each
/// simulated agent owns its connections outright (one for the long-poll, one for run
/// calls, as the real agent effectively has), so a request is a write and a promise.
final class HTTPConnection: @unchecked Sendable {
    struct Response: Sendable {
        var status: Int
        var body: [UInt8]
        var headers: HTTPHeaders
    }

    enum Failure: Error, CustomStringConvertible {
        case closed
        case timedOut(String)
        var description: String {
            switch self {
            case .closed: "connection closed"
            case .timedOut(let path): "timed out: \(path)"
            }
        }
    }

    let channel: any Channel
    let host: String

    private init(channel: any Channel, host: String) {
        self.channel = channel
        self.host = host
    }

    static func connect(host: String, port: Int, group: any EventLoopGroup) async throws -> HTTPConnection {
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ExchangeHandler())
                }
            }
            .connect(host: host, port: port).get()
        return HTTPConnection(channel: channel, host: "\(host):\(port)")
    }

    var isActive: Bool { channel.isActive }

    func close() { channel.close(promise: nil) }

    func send(
        _ method: HTTPMethod, _ path: String, bearer: String?, body: [UInt8]? = nil,
        headers extra: [(String, String)] = [], timeout: TimeAmount = .seconds(30)
    ) async throws -> Response {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "Host", value: host)
        if let bearer { head.headers.add(name: "Authorization", value: "Bearer " + bearer) }
        for (name, value) in extra { head.headers.add(name: name, value: value) }
        var buffer: ByteBuffer?
        if let body {
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(body.count))
            buffer = channel.allocator.buffer(bytes: body)
        } else if method == .POST || method == .PATCH {
            head.headers.add(name: "Content-Length", value: "0")
        }
        let promise = channel.eventLoop.makePromise(of: Response.self)
        let exchange = Exchange(head: head, body: buffer, promise: promise, timeout: timeout)
        channel.writeAndFlush(exchange, promise: nil)
        return try await promise.futureResult.get()
    }
}

struct Exchange {
    var head: HTTPRequestHead
    var body: ByteBuffer?
    var promise: EventLoopPromise<HTTPConnection.Response>
    var timeout: TimeAmount
}

/// Writes one request and completes its promise with the response; a second request on
/// the same connection before the first answered is a programming error in the bench.
final class ExchangeHandler: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = Exchange
    typealias OutboundOut = HTTPClientRequestPart

    private var pending: EventLoopPromise<HTTPConnection.Response>?
    private var timer: Scheduled<Void>?
    private var status = 0
    private var headers = HTTPHeaders()
    private var body: [UInt8] = []

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        guard pending == nil, context.channel.isActive else {
            exchange.promise.fail(HTTPConnection.Failure.closed)
            return
        }
        pending = exchange.promise
        body.removeAll(keepingCapacity: true)
        let path = exchange.head.uri
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: exchange.timeout) { [weak self] in
            guard let self, let pending = self.pending else { return }
            self.pending = nil
            pending.fail(HTTPConnection.Failure.timedOut(path))
            channel.close(promise: nil)
        }
        context.write(wrapOutboundOut(.head(exchange.head)), promise: nil)
        if let buffer = exchange.body { context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
            headers = head.headers
        case .body(var buffer):
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            timer?.cancel()
            timer = nil
            let promise = pending
            pending = nil
            promise?.succeed(.init(status: status, body: body, headers: headers))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(HTTPConnection.Failure.closed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
        context.close(promise: nil)
    }

    private func fail(_ error: any Error) {
        timer?.cancel()
        timer = nil
        let promise = pending
        pending = nil
        promise?.fail(error)
    }
}
