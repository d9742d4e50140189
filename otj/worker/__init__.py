"""The worker: poll each room's calendar, run the rules, store the meetings, trigger delivery.

``RoomPoller`` polls one room (pure orchestration around the store and the calendar source,
time injected); ``run_cycle`` polls every due room once on a thread pool (``otj worker
--once``); ``WorkerService`` runs one APScheduler job per room (``otj worker``, ``otj serve``).
"""
