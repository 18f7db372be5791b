import CX11

#if canImport(Glibc)
    import Glibc
#endif

/// What the driver serves while it owns CLIPBOARD, and INCR transfers in progress.
struct ClipboardOwner {
    /// UTF-8 bytes served while we own the selection; nil when we do not.
    var bytes: [UInt8]?
    var since: Time = 0
    var transfers: [Transfer] = []

    /// An INCR transfer: the requestor deletes the property to ask for the next chunk.
    struct Transfer {
        var requestor: Window
        var property: Atom
        var type: Atom
        var data: [UInt8]
        var offset: Int
    }
}

extension X11Desktop {
    /// Reads CLIPBOARD as text (UTF8_STRING, falling back to STRING). Empty when nobody owns it.
    public func clipboardText() async throws -> String {
        try await clipboardText(timeout: 2)
    }

    /// Reads CLIPBOARD, waiting at most `timeout` seconds for its owner to answer.
    public func clipboardText(timeout: Double) async throws -> String {
        if let bytes = clipboard.bytes { return String(decoding: bytes, as: UTF8.self) }
        guard XGetSelectionOwner(display, atoms.clipboard) != 0 else { return "" }
        if let data = try requestSelection(target: atoms.utf8String, timeout: timeout) {
            return String(decoding: data, as: UTF8.self)
        }
        if let data = try requestSelection(target: atoms.string, timeout: timeout) {
            return String(data.map { Character(Unicode.Scalar($0)) })
        }
        throw DesktopError.clipboardConversionFailed("it offers neither UTF8_STRING nor STRING")
    }

    /// Takes ownership of CLIPBOARD and serves `text` to every client that asks, until
    /// another client takes ownership.
    public func setClipboardText(_ text: String) throws {
        let time = try serverTime()
        XSetSelectionOwner(display, atoms.clipboard, window, time)
        guard XGetSelectionOwner(display, atoms.clipboard) == window else {
            throw DesktopError.clipboardConversionFailed("could not take ownership of CLIPBOARD")
        }
        clipboard.bytes = Array(text.utf8)
        clipboard.since = time
        try sync("taking the clipboard")
    }

    /// Whether this driver currently owns CLIPBOARD.
    public func ownsClipboard() -> Bool { clipboard.bytes != nil }

    /// Returns once another client has taken CLIPBOARD from us (immediately if we do not own
    /// it), or when the task is cancelled (SIGTERM of `clipboard set`'s server).
    public func waitUntilClipboardLost() async {
        // Checks ten times a second: ownership changes arrive as events on the X thread,
        // and a plain loop keeps cancellation trivially correct.
        while clipboard.bytes != nil, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// `copy_to_clipboard`: presses the copy chord, waits (up to `timeout`) until an
    /// application sets CLIPBOARD, then reads it.
    public func copySelectionToClipboard(chord: String = "ctrl+c", timeout: Double = 1) async throws -> String {
        var eventBase: Int32 = 0
        var errorBase: Int32 = 0
        let hasXFixes = XFixesQueryExtension(display, &eventBase, &errorBase) != 0
        if hasXFixes {
            XFixesSelectSelectionInput(display, window, atoms.clipboard, UInt(XFixesSetSelectionOwnerNotifyMask))
        }
        let ownerBefore = XGetSelectionOwner(display, atoms.clipboard)
        try await key(chord)
        let deadline = ContinuousClock.now.advanced(by: .seconds(timeout))
        if hasXFixes {
            _ = try? waitForEvent(timeout: timeout) { $0.type == eventBase + XFixesSelectionNotify }
            XFixesSelectSelectionInput(display, window, atoms.clipboard, 0)
        } else {
            while XGetSelectionOwner(display, atoms.clipboard) == ownerBefore, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        return try await clipboardText(timeout: timeout)
    }

    // MARK: - Requesting a selection

    private func requestSelection(target: Atom, timeout: Double) throws -> [UInt8]? {
        XDeleteProperty(display, window, atoms.transfer)
        XConvertSelection(display, atoms.clipboard, target, atoms.transfer, window, Time(CurrentTime))
        XFlush(display)
        let notify = try waitForEvent(timeout: timeout) {
            $0.type == SelectionNotify && $0.xselection.requestor == window
                && $0.xselection.selection == atoms.clipboard
        }
        guard notify.xselection.property != 0 else { return nil }
        var (type, data) = readProperty(delete: true)
        guard type == atoms.incr else { return data }
        // INCR: each time we delete the property the owner writes the next chunk; an empty
        // chunk ends the transfer.
        data = []
        while true {
            _ = try waitForEvent(timeout: timeout) {
                $0.type == PropertyNotify && $0.xproperty.window == window
                    && $0.xproperty.atom == atoms.transfer && $0.xproperty.state == PropertyNewValue
            }
            let (_, chunk) = readProperty(delete: true)
            if chunk.isEmpty { return data }
            data.append(contentsOf: chunk)
        }
    }

    private func readProperty(delete: Bool) -> (type: Atom, bytes: [UInt8]) {
        var type: Atom = 0
        var format: Int32 = 0
        var count: UInt = 0
        var remaining: UInt = 0
        var data: UnsafeMutablePointer<UInt8>?
        XGetWindowProperty(
            display, window, atoms.transfer, 0, Int(Int32.max / 4), delete ? 1 : 0,
            Atom(AnyPropertyType), &type, &format, &count, &remaining, &data)
        defer { if let data { XFree(data) } }
        guard let data, format == 8 else { return (type, []) }
        return (type, Array(UnsafeBufferPointer(start: data, count: Int(count))))
    }

    /// A server timestamp, from the PropertyNotify of a zero-length append to our window.
    private func serverTime() throws -> Time {
        XChangeProperty(display, window, atoms.timestamp, Atom(XA_STRING), 8, PropModeAppend, nil, 0)
        XFlush(display)
        let event = try waitForEvent(timeout: 2) {
            $0.type == PropertyNotify && $0.xproperty.window == window && $0.xproperty.atom == atoms.timestamp
        }
        return event.xproperty.time
    }

    /// Blocks (on the X thread) until an event matching `isWanted` arrives, handling every
    /// other event meanwhile so clipboard requests are still answered.
    func waitForEvent(timeout: Double, _ isWanted: (XEvent) -> Bool) throws -> XEvent {
        let deadline = ContinuousClock.now.advanced(by: .seconds(timeout))
        let fd = cx11_connection_number(display)
        while true {
            while XPending(display) > 0 {
                var event = XEvent()
                XNextEvent(display, &event)
                if isWanted(event) { return event }
                handle(event)
            }
            let remaining = deadline - .now
            guard remaining > .zero else { throw DesktopError.clipboardTimeout(seconds: timeout) }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(
                min(
                    1000,
                    max(
                        1,
                        remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000))
            )
            _ = poll(&pfd, 1, milliseconds)
        }
    }

    // MARK: - Serving the selection

    func answer(_ request: XSelectionRequestEvent) {
        var reply = XEvent()
        reply.xselection.type = SelectionNotify
        reply.xselection.display = request.display
        reply.xselection.requestor = request.requestor
        reply.xselection.selection = request.selection
        reply.xselection.target = request.target
        reply.xselection.time = request.time
        reply.xselection.property = 0
        let property = request.property != 0 ? request.property : request.target
        if request.selection == atoms.clipboard, let bytes = clipboard.bytes {
            switch request.target {
            case atoms.targets:
                // Format-32 properties are passed to Xlib as C longs.
                let targets: [Atom] = [atoms.targets, atoms.utf8String, atoms.string, atoms.text, atoms.timestamp]
                targets.withUnsafeBytes {
                    _ = XChangeProperty(
                        display, request.requestor, property, Atom(XA_ATOM), 32, PropModeReplace,
                        $0.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(targets.count))
                }
                reply.xselection.property = property
            case atoms.timestamp:
                let time = [clipboard.since]
                time.withUnsafeBytes {
                    _ = XChangeProperty(
                        display, request.requestor, property, Atom(XA_INTEGER), 32, PropModeReplace,
                        $0.baseAddress?.assumingMemoryBound(to: UInt8.self), 1)
                }
                reply.xselection.property = property
            case atoms.utf8String, atoms.text, atoms.string:
                let data = request.target == atoms.string ? Self.latin1(bytes) : bytes
                let type = request.target == atoms.string ? atoms.string : atoms.utf8String
                send(data, type: type, to: request.requestor, property: property)
                reply.xselection.property = property
            default:
                break
            }
        }
        XSendEvent(display, request.requestor, 0, 0, &reply)
        settleServingErrors()
    }

    /// Serving writes to other clients' windows, which may be gone by now. Their errors are
    /// collected here, so they are not reported by the next unrelated action; returns
    /// whether there was one.
    @discardableResult
    func settleServingErrors() -> Bool {
        XSync(display, 0)
        return X11Errors.take(display) != nil
    }

    /// Largest property we write in one request; larger text goes through INCR.
    private var chunkSize: Int {
        min(256 * 1024, Int(XMaxRequestSize(display)) * 4 - 1024)
    }

    private func send(_ data: [UInt8], type: Atom, to requestor: Window, property: Atom) {
        if data.count <= chunkSize {
            data.withUnsafeBufferPointer {
                _ = XChangeProperty(
                    display, requestor, property, type, 8, PropModeReplace, $0.baseAddress, Int32($0.count))
            }
            return
        }
        XSelectInput(display, requestor, PropertyChangeMask)
        let size = [Int(data.count)]
        size.withUnsafeBytes {
            _ = XChangeProperty(
                display, requestor, property, atoms.incr, 32, PropModeReplace,
                $0.baseAddress?.assumingMemoryBound(to: UInt8.self), 1)
        }
        clipboard.transfers.removeAll { $0.requestor == requestor && $0.property == property }
        clipboard.transfers.append(.init(requestor: requestor, property: property, type: type, data: data, offset: 0))
    }

    /// INCR: the requestor deleted the property, so it wants the next chunk.
    func propertyChanged(_ event: XPropertyEvent) {
        guard event.state == PropertyDelete,
            let index = clipboard.transfers.firstIndex(where: {
                $0.requestor == event.window && $0.property == event.atom
            })
        else { return }
        var transfer = clipboard.transfers[index]
        let end = min(transfer.data.count, transfer.offset + chunkSize)
        transfer.data.withUnsafeBufferPointer {
            _ = XChangeProperty(
                display, transfer.requestor, transfer.property, transfer.type, 8, PropModeReplace,
                $0.baseAddress! + transfer.offset, Int32(end - transfer.offset))
        }
        if transfer.offset == end {
            // The empty chunk just written ends the transfer.
            clipboard.transfers.remove(at: index)
            XSelectInput(display, transfer.requestor, 0)
            settleServingErrors()
        } else if settleServingErrors() {
            // The requestor went away mid-transfer: drop it instead of keeping its data.
            clipboard.transfers.remove(at: index)
        } else {
            transfer.offset = end
            clipboard.transfers[index] = transfer
        }
    }

    func selectionCleared(_ event: XSelectionClearEvent) {
        guard event.selection == atoms.clipboard else { return }
        clipboard.bytes = nil
    }

    private static func latin1(_ utf8: [UInt8]) -> [UInt8] {
        String(decoding: utf8, as: UTF8.self).unicodeScalars.map {
            $0.value <= 0xFF ? UInt8($0.value) : UInt8(ascii: "?")
        }
    }
}
