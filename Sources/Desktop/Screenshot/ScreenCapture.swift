import CX11

#if canImport(Glibc)
    import Glibc
#endif

/// Captures a screen region into an XImage. With MIT-SHM the image lives in one shared
/// memory segment created once and reused by every capture of the same size; without it
/// (remote displays) each capture is an XGetImage round trip.
struct ScreenCapture {
    let region: Rect
    private var image: UnsafeMutablePointer<XImage>?
    /// Heap-allocated because the XImage keeps a pointer to it (`obdata`) for every capture.
    private let shmInfo: UnsafeMutablePointer<XShmSegmentInfo>
    let usesSharedMemory: Bool

    /// Creates the SHM segment; returns nil when SHM is unavailable or attaching fails.
    init?(display: OpaquePointer, region: Rect) {
        guard XShmQueryExtension(display) != 0 else { return nil }
        let visual = cx11_default_visual(display)
        let depth = UInt32(cx11_default_depth(display))
        let info = UnsafeMutablePointer<XShmSegmentInfo>.allocate(capacity: 1)
        info.initialize(to: XShmSegmentInfo())
        guard
            let image = XShmCreateImage(
                display, visual, depth, ZPixmap, nil, info,
                UInt32(region.width), UInt32(region.height))
        else {
            info.deallocate()
            return nil
        }
        let bytes = Int(image.pointee.bytes_per_line) * Int(image.pointee.height)
        let id = shmget(IPC_PRIVATE, bytes, IPC_CREAT | 0o600)
        guard id >= 0 else {
            cx11_destroy_image(image)
            info.deallocate()
            return nil
        }
        guard let address = shmat(id, nil, 0), address != UnsafeMutableRawPointer(bitPattern: -1) else {
            shmctl(id, IPC_RMID, nil)
            cx11_destroy_image(image)
            info.deallocate()
            return nil
        }
        // Allocate every page of the segment in one call rather than one fault per 4 KiB page
        // on first use (~2,000 for 1920x1080, each costly in a VM). Best effort: kernels
        // before 5.14 refuse the advice and the pages fault in as before.
        _ = madvise(address, bytes, MADV_POPULATE_WRITE)
        info.pointee.shmid = id
        info.pointee.shmaddr = address.assumingMemoryBound(to: CChar.self)
        info.pointee.readOnly = 0
        image.pointee.data = info.pointee.shmaddr
        _ = X11Errors.take(display)
        XShmAttach(display, info)
        XSync(display, 0)
        // Marked for removal now, so the segment is freed even if the process is killed.
        shmctl(id, IPC_RMID, nil)
        if X11Errors.take(display) != nil {
            shmdt(address)
            image.pointee.data = nil
            cx11_destroy_image(image)
            info.deallocate()
            return nil
        }
        self.region = region
        self.image = image
        self.shmInfo = info
        self.usesSharedMemory = true
    }

    /// Grabs the region (or a region of the same size at `origin`) into the shared segment and
    /// calls `body` with the image.
    mutating func capture<T>(
        display: OpaquePointer, root: Window, at origin: Point? = nil,
        _ body: (UnsafeMutablePointer<XImage>) throws -> T
    ) throws -> T {
        guard let image else { throw DesktopError.displayClosed }
        _ = X11Errors.take(display)
        let x = origin?.x ?? region.x
        let y = origin?.y ?? region.y
        let ok = XShmGetImage(display, root, image, Int32(x), Int32(y), cx11_all_planes())
        let error = X11Errors.take(display)
        guard ok != 0, error == nil else {
            throw DesktopError.x11(
                code: error?.code ?? 0, request: error?.request ?? 0, during: "capturing the screen with MIT-SHM")
        }
        return try body(image)
    }

    mutating func destroy(display: OpaquePointer) {
        guard let image else { return }
        XShmDetach(display, shmInfo)
        XSync(display, 0)
        shmdt(shmInfo.pointee.shmaddr)
        image.pointee.data = nil
        cx11_destroy_image(image)
        shmInfo.deallocate()
        self.image = nil
    }

    /// One XGetImage capture, for displays without MIT-SHM.
    static func captureWithoutSharedMemory<T>(
        display: OpaquePointer, root: Window, region: Rect,
        _ body: (UnsafeMutablePointer<XImage>) throws -> T
    ) throws -> T {
        _ = X11Errors.take(display)
        guard
            let image = XGetImage(
                display, root, Int32(region.x), Int32(region.y),
                UInt32(region.width), UInt32(region.height), cx11_all_planes(), ZPixmap)
        else {
            let error = X11Errors.take(display)
            throw DesktopError.x11(
                code: error?.code ?? 0, request: error?.request ?? 0, during: "capturing the screen with XGetImage")
        }
        defer { cx11_destroy_image(image) }
        return try body(image)
    }
}

/// Converts an XImage in any TrueColor layout to packed RGB.
enum PixelConverter {
    /// An uninitialized buffer (`convert` writes every byte) backed by transparent huge pages
    /// where the kernel allows it (THP mode "madvise"). A one-shot CLI screenshot fills a fresh
    /// 6 MB buffer; with 4 KiB pages that is ~1,500 page faults, which cost several
    /// milliseconds in a virtual machine, and a zeroing pass nobody needs.
    static func freshPixelBuffer(count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let base = buffer.baseAddress {
                let hugePage = 2 << 20
                let start = (Int(bitPattern: base) + hugePage - 1) & ~(hugePage - 1)
                let end = (Int(bitPattern: base) + count) & ~(hugePage - 1)
                if end > start {
                    _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_HUGEPAGE)
                }
            }
            initialized = count
        }
    }

    static func convert(_ image: UnsafeMutablePointer<XImage>, into rgb: inout [UInt8]) throws {
        let width = Int(image.pointee.width)
        let height = Int(image.pointee.height)
        let count = width * height * 3
        guard image.pointee.data != nil else {
            throw DesktopError.x11(
                code: 0, request: 0, during: "capturing the screen (the X server returned no pixels)")
        }
        if rgb.count != count { rgb = freshPixelBuffer(count: count) }
        let bpp = Int(image.pointee.bits_per_pixel)
        let stride = Int(image.pointee.bytes_per_line)
        let redMask = UInt32(truncatingIfNeeded: image.pointee.red_mask)
        let greenMask = UInt32(truncatingIfNeeded: image.pointee.green_mask)
        let blueMask = UInt32(truncatingIfNeeded: image.pointee.blue_mask)
        let lsbFirst = cx11_image_byte_order(image) == LSBFirst
        guard let base = UnsafeRawPointer(image.pointee.data) else { return }
        rgb.withUnsafeMutableBufferPointer { out in
            // The layout of every local 24/32-bit TrueColor visual: BGRX in memory.
            if bpp == 32, lsbFirst, redMask == 0xFF0000, greenMask == 0x00FF00, blueMask == 0x0000FF {
                for y in 0..<height {
                    let row = base.advanced(by: y * stride).assumingMemoryBound(to: UInt8.self)
                    var o = y * width * 3
                    var i = 0
                    for _ in 0..<width {
                        out[o] = row[i + 2]
                        out[o + 1] = row[i + 1]
                        out[o + 2] = row[i]
                        o += 3
                        i += 4
                    }
                }
                return
            }
            let red = Channel(mask: redMask)
            let green = Channel(mask: greenMask)
            let blue = Channel(mask: blueMask)
            var o = 0
            for y in 0..<height {
                for x in 0..<width {
                    let pixel = UInt32(truncatingIfNeeded: cx11_get_pixel(image, Int32(x), Int32(y)))
                    out[o] = red.value(pixel)
                    out[o + 1] = green.value(pixel)
                    out[o + 2] = blue.value(pixel)
                    o += 3
                }
                _ = y
            }
        }
    }

    /// Extracts one colour channel from a pixel by its mask and scales it to 8 bits.
    struct Channel {
        let mask: UInt32
        let shift: UInt32
        let maximum: UInt32

        init(mask: UInt32) {
            self.mask = mask
            shift = mask == 0 ? 0 : UInt32(mask.trailingZeroBitCount)
            maximum = mask == 0 ? 1 : mask >> shift
        }

        func value(_ pixel: UInt32) -> UInt8 {
            let raw = (pixel & mask) >> shift
            return maximum == 255 ? UInt8(raw) : UInt8(raw * 255 / maximum)
        }
    }
}
