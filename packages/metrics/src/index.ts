// @kanary/metrics: implemented in its own issue; nothing here pretends to work yet.
export {};
