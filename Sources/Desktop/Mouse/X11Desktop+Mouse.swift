import CX11

extension X11Desktop {
    public func pointerPosition() throws -> Point {
        let pointer = queryPointer()
        guard pointer.onThisScreen else {
            throw DesktopError.invalidArgument("the pointer is on another screen")
        }
        return pointer.position
    }

    /// One XQueryPointer: where the pointer is, which buttons are down (the state mask),
    /// and whether it is on this screen at all.
    func queryPointer() -> (position: Point, buttons: UInt32, onThisScreen: Bool) {
        var rootReturn: Window = 0
        var child: Window = 0
        var x: Int32 = 0
        var y: Int32 = 0
        var winX: Int32 = 0
        var winY: Int32 = 0
        var mask: UInt32 = 0
        let sameScreen = XQueryPointer(display, root, &rootReturn, &child, &x, &y, &winX, &winY, &mask) != 0
        return (Point(x: Int(x), y: Int(y)), mask, sameScreen)
    }

    public func move(to point: Point) throws {
        try checkOnScreen(point)
        XTestFakeMotionEvent(display, screen, Int32(point.x), Int32(point.y), 0)
        try sync("moving the pointer")
    }

    public func click(at point: Point? = nil, button: MouseButton = .left, clicks: Int = 1) async throws {
        guard (1...3).contains(clicks) else {
            throw DesktopError.invalidArgument("clicks must be 1, 2 or 3, got \(clicks)")
        }
        if let point { try checkOnScreen(point) }
        try await withInputCleanup {
            if let point { XTestFakeMotionEvent(display, screen, Int32(point.x), Int32(point.y), 0) }
            for _ in 0..<clicks {
                fakeButton(button.x11Button, down: true)
                fakeButton(button.x11Button, down: false)
            }
            try sync("clicking")
        }
    }

    public func mouseButton(_ button: MouseButton, down: Bool, at point: Point? = nil) async throws {
        if let point { try checkOnScreen(point) }
        try await withInputCleanup {
            if let point { XTestFakeMotionEvent(display, screen, Int32(point.x), Int32(point.y), 0) }
            if down {
                fakeButton(button.x11Button, down: true)
            } else {
                // Release only what is down, so a stray release does not reach applications.
                if pressedInputs().buttons.contains(Int(button.x11Button)) || heldButtons.contains(button.x11Button) {
                    fakeButton(button.x11Button, down: false)
                }
            }
            try sync(down ? "pressing a mouse button" : "releasing a mouse button")
        }
    }

    public func drag(from start: Point, to end: Point, duration: Double = 0, button: MouseButton = .left) async throws {
        try checkOnScreen(start)
        try checkOnScreen(end)
        guard duration >= 0, duration <= 60 else {
            throw DesktopError.invalidArgument("drag duration must be between 0 and 60 seconds, got \(duration)")
        }
        try await withInputCleanup {
            XTestFakeMotionEvent(display, screen, Int32(start.x), Int32(start.y), 0)
            fakeButton(button.x11Button, down: true)
            if duration > 0 {
                // About 60 motion events per second, the way a hand moves a mouse.
                let steps = max(1, Int(duration * 60))
                let clock = ContinuousClock()
                let begin = clock.now
                for step in 1...steps {
                    let t = Double(step) / Double(steps)
                    let x = Double(start.x) + (Double(end.x - start.x) * t)
                    let y = Double(start.y) + (Double(end.y - start.y) * t)
                    XTestFakeMotionEvent(display, screen, Int32(x.rounded()), Int32(y.rounded()), 0)
                    XFlush(display)
                    try await Task.sleep(until: begin.advanced(by: .seconds(duration * t)), clock: clock)
                }
            } else {
                // An intermediate motion so applications see a drag, not a click at a new place.
                let midX = (start.x + end.x) / 2
                let midY = (start.y + end.y) / 2
                XTestFakeMotionEvent(display, screen, Int32(midX), Int32(midY), 0)
            }
            XTestFakeMotionEvent(display, screen, Int32(end.x), Int32(end.y), 0)
            fakeButton(button.x11Button, down: false)
            try sync("dragging")
        }
    }

    public func scroll(_ direction: ScrollDirection, amount: Int, at point: Point? = nil) async throws {
        guard (0...1000).contains(amount) else {
            throw DesktopError.invalidArgument("scroll amount must be between 0 and 1000, got \(amount)")
        }
        if let point { try checkOnScreen(point) }
        try await withInputCleanup {
            if let point { XTestFakeMotionEvent(display, screen, Int32(point.x), Int32(point.y), 0) }
            for _ in 0..<amount {
                fakeButton(direction.x11Button, down: true)
                fakeButton(direction.x11Button, down: false)
            }
            try sync("scrolling")
        }
    }
}
