export * from "./cni.js";
export * from "./netns.js";
export * from "./subnet.js";
export * from "./bridge.js";
export * from "./firewall.js";
