-- 绿色通道 (002 §6.3.3): green-channel demands jump the dispatch queue.
ALTER TABLE queue ADD COLUMN green_channel text;
