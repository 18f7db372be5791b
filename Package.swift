// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "cyberdesk",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cyberdesk-agent", targets: ["cyberdesk-agent"]),
        .library(name: "Desktop", targets: ["Desktop"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // One C module per system library; macros and setjmp-based error handling live in shim.h.
        .systemLibrary(name: "CX11", pkgConfig: "x11 xtst xext xrandr xfixes"),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng"),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib"),
        .target(
            name: "Desktop",
            dependencies: ["CX11", "CPNG", "CZlib"]
        ),
        .executableTarget(
            name: "cyberdesk-agent",
            dependencies: [
                "Desktop",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // In-process measurements for scripts/bench-desktop (results in BENCHMARKS.md).
        .executableTarget(
            name: "desktop-bench",
            dependencies: ["Desktop"],
            path: "Benchmarks/DesktopBench"
        ),
        .testTarget(
            name: "DesktopTests",
            dependencies: ["Desktop", "CX11"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
