import Hummingbird
import NIOCore

/// The request context: Hummingbird's core storage plus the peer address, which intake
/// keeps with the raw request.
public struct EscuchaRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
