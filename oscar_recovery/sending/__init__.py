"""4. One message out: the send-time checks, content and pricing of the basket, the
templating sandbox, composing and sending (a claim makes a redelivered task harmless),
vouchers for incentives, the signed tokens in restore and unsubscribe links, and the ESP
call's rules the double opt-in confirmations share (:mod:`.esp_call`)."""
